/* SPDX-License-Identifier: MIT */
/* Tests for src/server/workers.c: the restart back-off. */
#include "../../../src/server/server_internal.h"
#include "../test.h"

TEST(a_worker_that_lived_long_is_restarted_at_once) {
    ASSERT_EQ(aw__restart_delay_ms(10000, 0), 0);
    ASSERT_EQ(aw__restart_delay_ms(3600 * 1000, 30000), 0); /* and its back-off is forgotten */
}

TEST(quick_deaths_back_off_from_half_a_second_doubling_to_30_s) {
    uint32_t delays[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
    uint32_t d = 0;
    for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
        d = aw__restart_delay_ms(9999, d);
        ASSERT_EQ(d, delays[i]);
    }
    ASSERT_EQ(aw__restart_delay_ms(0, 0), 500);
}
