/* SPDX-License-Identifier: MIT */
/* awaitress: FastAPI-style async/await web APIs in C. Include this one header. */
#ifndef AWAITRESS_H
#define AWAITRESS_H

#include "awaitress/error.h"
#include "awaitress/coro.h"
#include "awaitress/loop.h"
#include "awaitress/pool.h"
#include "awaitress/http.h"
#include "awaitress/client.h"
#include "awaitress/web.h"
#include "awaitress/server.h"

#endif
