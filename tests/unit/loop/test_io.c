#include "../test.h"
