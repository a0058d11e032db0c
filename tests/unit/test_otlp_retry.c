/* SPDX-License-Identifier: MIT */
/*
 * test_otlp_retry.c: the OTLP/HTTP retry rules of exporters/otlp_retry.c:
 * response classes, Retry-After in both forms (dates checked against
 * glibc's timegm), the equal-jitter backoff with an injected random
 * source, and the deadline arithmetic.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "otlp_retry.h"

/* ---- classification ---- */

Test(otlp_retry, success_is_every_2xx)
{
	const long codes[] = {200, 201, 202, 204, 299};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		cr_expect_eq(otlp_retry_classify(codes[i], CURLE_OK), OTLP_RESPONSE_SUCCESS, "%ld", codes[i]);
}

Test(otlp_retry, retryable_statuses_are_exactly_429_502_503_504)
{
	for (long status = 100; status <= 599; status++) {
		enum otlp_response_class c = otlp_retry_classify(status, CURLE_OK);
		bool retryable = status == 429 || status == 502 || status == 503 || status == 504;
		if (status >= 200 && status <= 299)
			cr_expect_eq(c, OTLP_RESPONSE_SUCCESS, "%ld", status);
		else if (retryable)
			cr_expect_eq(c, OTLP_RESPONSE_RETRYABLE, "%ld", status);
		else
			cr_expect_eq(c, OTLP_RESPONSE_PERMANENT, "%ld must not be retried", status);
	}
}

Test(otlp_retry, no_response_is_retryable_other_transfer_errors_are_not)
{
	const int retryable[] = {CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT,
	                         CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE,
	                         CURLE_SSL_CONNECT_ERROR};
	for (size_t i = 0; i < sizeof retryable / sizeof retryable[0]; i++) {
		cr_expect_eq(otlp_retry_classify(0, retryable[i]), OTLP_RESPONSE_RETRYABLE, "curl %d", retryable[i]);
		/* the status line may have come before the connection broke: still no answer */
		cr_expect_eq(otlp_retry_classify(200, retryable[i]), OTLP_RESPONSE_RETRYABLE, "curl %d", retryable[i]);
	}
	const int permanent[] = {CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_PEER_FAILED_VERIFICATION,
	                         CURLE_SSL_CACERT_BADFILE, CURLE_WRITE_ERROR, CURLE_WEIRD_SERVER_REPLY,
	                         CURLE_ABORTED_BY_CALLBACK};
	for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++)
		cr_expect_eq(otlp_retry_classify(0, permanent[i]), OTLP_RESPONSE_PERMANENT, "curl %d", permanent[i]);
}

/* ---- Retry-After ---- */

static int64_t utc(int y, int mon, int d, int h, int min, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
	                .tm_hour = h, .tm_min = min, .tm_sec = s};
	return (int64_t)timegm(&tm);
}

Test(otlp_retry, retry_after_delay_seconds)
{
	int64_t ms = -1;
	cr_assert(otlp_retry_parse_retry_after("1", 0, &ms));
	cr_expect_eq(ms, 1000);
	cr_assert(otlp_retry_parse_retry_after("  120 \r\n", 0, &ms));
	cr_expect_eq(ms, 120000);
	cr_assert(otlp_retry_parse_retry_after("0", 0, &ms));
	cr_expect_eq(ms, 0);
	cr_assert(otlp_retry_parse_retry_after("99999999999999999999999999", 0, &ms), "saturates, not overflows");
	cr_expect_eq(ms, 86400 * 1000);
	const char *bad[] = {"", "  ", "-1", "1.5", "1s", "abc", "1 2", NULL};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ms = 42;
		cr_expect_not(otlp_retry_parse_retry_after(bad[i], 0, &ms), "\"%s\"", bad[i] ? bad[i] : "(null)");
		cr_expect_eq(ms, 42, "left alone on failure");
	}
}

Test(otlp_retry, retry_after_http_date_all_three_forms)
{
	int64_t at = utc(1994, 11, 6, 8, 49, 37);
	const char *forms[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
	                       "Sun Nov  6 08:49:37 1994"};
	for (size_t i = 0; i < 3; i++) {
		int64_t ms = -1;
		cr_assert(otlp_retry_parse_retry_after(forms[i], at - 7, &ms), "%s", forms[i]);
		cr_expect_eq(ms, 7000, "%s", forms[i]);
		cr_assert(otlp_retry_parse_retry_after(forms[i], at + 100, &ms), "%s", forms[i]);
		cr_expect_eq(ms, 0, "a past date means now: %s", forms[i]);
	}
}

Test(otlp_retry, retry_after_dates_across_years_and_leap_days)
{
	/* every day of 2023 and 2024 at one time, against timegm */
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	for (int64_t t = utc(2023, 1, 1, 23, 59, 59); t < utc(2025, 1, 1, 0, 0, 0); t += 86400) {
		time_t tt = (time_t)t;
		struct tm tm;
		gmtime_r(&tt, &tm);
		char text[64];
		snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		int64_t ms = -1;
		cr_assert(otlp_retry_parse_retry_after(text, t - 3, &ms), "%s", text);
		cr_assert_eq(ms, 3000, "%s", text);
	}
	int64_t ms;
	cr_expect_not(otlp_retry_parse_retry_after("Wed, 29 Feb 2023 12:00:00 GMT", 0, &ms), "no such day");
	cr_expect_not(otlp_retry_parse_retry_after("Sun, 31 Apr 2024 12:00:00 GMT", 0, &ms), "no such day");
	cr_expect_not(otlp_retry_parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", 0, &ms), "GMT only");
	cr_expect_not(otlp_retry_parse_retry_after("Sun, 06 Nov 1994 24:00:00 GMT", 0, &ms));
	cr_expect_not(otlp_retry_parse_retry_after("sun, 06 nov 1994 08:49:37 GMT", 0, &ms), "case-sensitive");
	cr_expect_not(otlp_retry_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT x", 0, &ms), "trailing text");
}

Test(otlp_retry, rfc850_two_digit_year_is_at_most_50_years_ahead)
{
	int64_t now = utc(2026, 12, 1, 0, 0, 0);
	int64_t ms = -1;
	/* "27" is 2027 (next year), not 1927 */
	cr_assert(otlp_retry_parse_retry_after("Friday, 01-Jan-27 00:00:00 GMT", utc(2026, 12, 31, 23, 59, 50), &ms));
	cr_expect_eq(ms, 10000);
	/* "94" would be 2094, more than 50 years ahead: it is 1994, in the past */
	cr_assert(otlp_retry_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now, &ms));
	cr_expect_eq(ms, 0);
	/* "26" at the end of 2026: this year */
	cr_assert(otlp_retry_parse_retry_after("Tuesday, 01-Dec-26 00:00:05 GMT", now, &ms));
	cr_expect_eq(ms, 5000);
}

/* ---- backoff ---- */

static double fixed_random(void *ctx)
{
	return *(double *)ctx;
}

static double libc_random(void *ctx)
{
	(void)ctx;
	return (double)random() / ((double)RAND_MAX + 1.0);
}

Test(otlp_retry, backoff_doubles_from_1s_to_the_32s_cap_with_equal_jitter)
{
	double lo = 0.0, hi = 0.999999999;
	int64_t base = 1000;
	for (uint32_t retry = 1; retry <= 12; retry++) {
		int64_t expected_base = base < 32000 ? base : 32000;
		cr_expect_eq(otlp_retry_backoff_ms(retry, 0, 0, fixed_random, &lo), expected_base / 2,
		             "retry %u: the floor is half the base", retry);
		int64_t top = otlp_retry_backoff_ms(retry, 0, 0, fixed_random, &hi);
		cr_expect(top < expected_base && top >= expected_base - 1, "retry %u: %lld below %lld", retry,
		          (long long)top, (long long)expected_base);
		base *= 2;
	}
}

Test(otlp_retry, backoff_stays_in_its_bounds_for_any_random_value)
{
	srandom(12345);
	for (uint32_t retry = 1; retry <= 8; retry++) {
		int64_t base = 200LL << (retry - 1);
		if (base > 3000)
			base = 3000;
		int64_t min = INT64_MAX, max = 0;
		for (int i = 0; i < 2000; i++) {
			int64_t d = otlp_retry_backoff_ms(retry, 200, 3000, libc_random, NULL);
			cr_assert(d >= base / 2 && d < base, "retry %u: %lld outside [%lld, %lld)", retry, (long long)d,
			          (long long)(base / 2), (long long)base);
			min = d < min ? d : min;
			max = d > max ? d : max;
		}
		/* the jitter spreads: the 2000 draws cover most of the range */
		cr_expect(max - min > (base / 2) * 8 / 10, "retry %u: spread %lld of %lld", retry,
		          (long long)(max - min), (long long)(base / 2));
	}
}

Test(otlp_retry, backoff_survives_a_broken_random_source)
{
	double nan_value = NAN, big = 7.0, negative = -3.0;
	cr_expect_eq(otlp_retry_backoff_ms(1, 0, 0, fixed_random, &nan_value), 500);
	cr_expect_eq(otlp_retry_backoff_ms(1, 0, 0, fixed_random, &negative), 500);
	cr_expect_lt(otlp_retry_backoff_ms(1, 0, 0, fixed_random, &big), 1000);
	/* a cap below the initial value is raised to it, and huge retry numbers do not overflow */
	double zero = 0.0;
	cr_expect_eq(otlp_retry_backoff_ms(1, 4000, 1000, fixed_random, &zero), 2000);
	cr_expect_eq(otlp_retry_backoff_ms(UINT32_MAX, 0, 0, fixed_random, &zero), 16000);
}

/* ---- next delay and deadline ---- */

Test(otlp_retry, retry_after_replaces_the_backoff)
{
	double zero = 0.0;
	int64_t delay = -1;
	cr_assert(otlp_retry_next_delay(1, 2500, 0, 10000, 0, 0, fixed_random, &zero, &delay));
	cr_expect_eq(delay, 2500);
	cr_assert(otlp_retry_next_delay(5, 0, 0, 10000, 0, 0, fixed_random, &zero, &delay));
	cr_expect_eq(delay, OTLP_RETRY_AFTER_FLOOR_MS, "Retry-After: 0 is raised to the floor");
	cr_assert(otlp_retry_next_delay(1, -1, 0, 10000, 0, 0, fixed_random, &zero, &delay));
	cr_expect_eq(delay, 500, "no Retry-After: the backoff");
}

Test(otlp_retry, no_retry_that_would_start_at_or_past_the_deadline)
{
	double zero = 0.0;
	int64_t delay = -1;
	cr_expect(otlp_retry_next_delay(1, -1, 1000, 1501, 0, 0, fixed_random, &zero, &delay));
	cr_expect_eq(delay, 500);
	delay = -1;
	cr_expect_not(otlp_retry_next_delay(1, -1, 1000, 1500, 0, 0, fixed_random, &zero, &delay),
	              "would start exactly at the deadline");
	cr_expect_eq(delay, -1);
	cr_expect_not(otlp_retry_next_delay(1, 30000, 0, 10000, 0, 0, fixed_random, &zero, &delay),
	              "Retry-After beyond the timeout: drop now rather than sleep into a failure");
	cr_expect_not(otlp_retry_next_delay(1, -1, 2000, 1000, 0, 0, fixed_random, &zero, &delay), "past");
	cr_expect(otlp_retry_next_delay(1, 86400000, 5, INT64_MAX, 0, 0, fixed_random, &zero, &delay),
	          "no deadline: any wait");
	cr_expect_eq(delay, 86400000);
}

Test(otlp_retry, deadline_and_remaining)
{
	cr_expect_eq(otlp_retry_deadline(1000, 10000, INT64_MAX), 11000);
	cr_expect_eq(otlp_retry_deadline(1000, 10000, 3000), 3000, "the caller's earlier limit wins");
	cr_expect_eq(otlp_retry_deadline(1000, 10000, 50000), 11000);
	cr_expect_eq(otlp_retry_deadline(1000, 0, INT64_MAX), INT64_MAX, "timeout 0 is no limit");
	cr_expect_eq(otlp_retry_deadline(1000, 0, 2000), 2000);
	cr_expect_eq(otlp_retry_remaining_ms(1000, 1500), 500);
	cr_expect_eq(otlp_retry_remaining_ms(1500, 1500), 0);
	cr_expect_eq(otlp_retry_remaining_ms(2000, 1500), 0);
	cr_expect_eq(otlp_retry_remaining_ms(2000, INT64_MAX), INT64_MAX);
}
