/* SPDX-License-Identifier: MIT */
/* Tests for src/common/error.c. */
#include "../test.h"
#include "awaitress/error.h"

TEST(codes_are_negative_errno) {
    ASSERT_EQ(AW_ENOMEM, -ENOMEM);
    ASSERT_EQ(AW_ECANCELED, -ECANCELED);
    ASSERT_EQ(AW_ETIMEDOUT, -ETIMEDOUT);
}

TEST(messages_and_names) {
    ASSERT_STR_EQ(aw_strerror(AW_ECANCELED), "operation canceled");
    ASSERT_STR_EQ(aw_err_name(AW_ETIMEDOUT), "ETIMEDOUT");
    ASSERT_STR_EQ(aw_strerror(0), "success");
    ASSERT_STR_EQ(aw_strerror(-99999), "unknown error");
    ASSERT_STR_EQ(aw_err_name(-99999), "UNKNOWN");
}
