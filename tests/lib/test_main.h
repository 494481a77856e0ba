/* The main() of a unit test program: runs the cmocka tests it lists. */
#ifndef PRISM_TEST_MAIN_H
#define PRISM_TEST_MAIN_H

/*
 * TEST_MAIN(cmocka_unit_test(test_a), cmocka_unit_test(test_b), ...) is
 * the program's main(): one group of the tests listed, in order, without
 * group setup or teardown; the exit status is the count that failed.
 * Include after <cmocka.h>. A program with group setup writes its own
 * main().
 */
#define TEST_MAIN(...)                                                         \
    int main(void)                                                             \
    {                                                                          \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                       \
        return cmocka_run_group_tests(tests, NULL, NULL);                      \
    }

#endif
