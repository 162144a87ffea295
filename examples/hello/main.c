/* SPDX-License-Identifier: MIT */
/* The README's example: concurrent cooking, a blocking job on the pool, and a timeout. */
#include <awaitress.h>
#include <stdio.h>

/* An async function: it may suspend, and the loop runs other tasks meanwhile. */
static void *cook(void *arg) {
    int burgers = *(int *)arg;
    if (aw_sleep_ms(100 * (uint64_t)burgers) != 0)
        return NULL; /* cancelled: stop cooking */
    printf("%d burgers ready\n", burgers);
    return arg;
}

/* CPU work with no waiting in it: it runs on the thread pool. */
static void *hash_rooms(void *arg) {
    unsigned long h = 5381;
    for (long i = 0; i < 50000000; i++)
        h = h * 33 + (unsigned long)i;
    *(unsigned long *)arg = h;
    return arg;
}

static void *shop(void *arg) {
    (void)arg;
    int two = 2, three = 3;
    uint64_t start = aw_now_ns();
    aw_task_t *orders[] = {aw_async(cook, &two), aw_async(cook, &three)};
    aw_gather(orders, 2, NULL); /* both cook at once: ~300 ms, not 500 */
    printf("both orders took %llu ms\n", (unsigned long long)(aw_now_ns() - start) / 1000000);

    unsigned long h;
    aw_run_blocking(hash_rooms, &h); /* the loop stays free while a thread works */
    printf("mansion hashed: %lx\n", h);

    aw_task_t *slow = aw_async(cook, &three);
    if (aw_await_timeout(slow, 100, NULL) == AW_ETIMEDOUT)
        puts("gave up waiting; the order was cancelled");
    return NULL;
}

int main(void) {
    int rc = aw_run(shop, NULL, NULL);
    aw_pool_shutdown_default();
    return rc == 0 ? 0 : 1;
}
