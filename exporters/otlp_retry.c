/* SPDX-License-Identifier: MIT */
/*
 * otlp_retry.c: the OTLP/HTTP retry rules (otlp_retry.h says which and
 * why). Dates are parsed by hand, not with strptime: %a and %b follow the
 * host's locale, and HTTP dates are always English and GMT.
 */
#include "otlp_retry.h"

#include <curl/curl.h>
#include <string.h>

enum otlp_response_class otlp_retry_classify(long http_status, int curl_code)
{
	if (curl_code != CURLE_OK) {
		switch (curl_code) {
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:       /* closed without a byte of response */
		case CURLE_PARTIAL_FILE:      /* closed in the middle of the response */
		case CURLE_SSL_CONNECT_ERROR: /* handshake cut off; bad certificates have their own codes */
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return OTLP_RESPONSE_RETRYABLE;
		default:
			return OTLP_RESPONSE_PERMANENT;
		}
	}
	if (http_status >= 200 && http_status <= 299)
		return OTLP_RESPONSE_SUCCESS;
	switch (http_status) {
	case 429:
	case 502:
	case 503:
	case 504:
		return OTLP_RESPONSE_RETRYABLE;
	default:
		return OTLP_RESPONSE_PERMANENT;
	}
}

/* ---- Retry-After ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads exactly n digits (n <= 4) at *p. */
static bool read_digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool read_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* Month "Jan".."Dec" (case-sensitive, as RFC 9110 writes it) to 1..12. */
static bool read_month(const char **p, int *month)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++) {
		if (strncmp(*p, names + 3 * i, 3) == 0) {
			*p += 3;
			*month = i + 1;
			return true;
		}
	}
	return false;
}

/* Skips a day name: three letters (IMF-fixdate, asctime) or a full one (RFC 850). */
static bool skip_day_name(const char **p, bool full)
{
	static const char *const short_names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const long_names[] = {"Monday", "Tuesday", "Wednesday", "Thursday",
	                                         "Friday", "Saturday", "Sunday"};
	const char *const *names = full ? long_names : short_names;
	for (int i = 0; i < 7; i++) {
		size_t n = strlen(names[i]);
		if (strncmp(*p, names[i], n) == 0) {
			*p += n;
			return true;
		}
	}
	return false;
}

/* "HH:MM:SS" */
static bool read_time(const char **p, int *h, int *m, int *s)
{
	return read_digits(p, 2, h) && read_char(p, ':') && read_digits(p, 2, m) && read_char(p, ':') &&
	       read_digits(p, 2, s) && *h <= 23 && *m <= 59 && *s <= 60;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static bool date_to_unix(int y, int mon, int d, int h, int min, int s, int64_t *unix_s)
{
	if (mon < 1 || mon > 12 || d < 1 || d > days_in_month(y, mon))
		return false;
	*unix_s = days_from_civil(y, mon, d) * 86400 + h * 3600 + min * 60 + s;
	return true;
}

/* The three HTTP-date forms; *p at the first non-blank, on success just past the date. */
static bool parse_http_date(const char **p, int64_t now_unix_s, int64_t *unix_s)
{
	const char *q = *p;
	int y, mon, d, h, min, s;
	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	if (skip_day_name(&q, false) && read_char(&q, ',') && read_char(&q, ' ') && read_digits(&q, 2, &d) &&
	    read_char(&q, ' ') && read_month(&q, &mon) && read_char(&q, ' ') && read_digits(&q, 4, &y) &&
	    read_char(&q, ' ') && read_time(&q, &h, &min, &s) && strncmp(q, " GMT", 4) == 0) {
		*p = q + 4;
		return date_to_unix(y, mon, d, h, min, s, unix_s);
	}
	/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
	q = *p;
	if (skip_day_name(&q, true) && read_char(&q, ',') && read_char(&q, ' ') && read_digits(&q, 2, &d) &&
	    read_char(&q, '-') && read_month(&q, &mon) && read_char(&q, '-') && read_digits(&q, 2, &y) &&
	    read_char(&q, ' ') && read_time(&q, &h, &min, &s) && strncmp(q, " GMT", 4) == 0) {
		/* RFC 9110 5.6.7: a two-digit year more than 50 years in the
		 * future is the most recent past year with those digits. */
		int64_t now_year = 1970 + now_unix_s / 31556952; /* mean Gregorian year; close enough here */
		int64_t year = now_year - now_year % 100 + y;
		if (year > now_year + 50)
			year -= 100;
		*p = q + 4;
		return date_to_unix((int)year, mon, d, h, min, s, unix_s);
	}
	/* asctime: Sun Nov  6 08:49:37 1994 */
	q = *p;
	if (skip_day_name(&q, false) && read_char(&q, ' ') && read_month(&q, &mon) && read_char(&q, ' ')) {
		if (*q == ' ' && is_digit(q[1])) {
			d = q[1] - '0';
			q += 2;
		} else if (!read_digits(&q, 2, &d)) {
			return false;
		}
		if (read_char(&q, ' ') && read_time(&q, &h, &min, &s) && read_char(&q, ' ') && read_digits(&q, 4, &y)) {
			*p = q;
			return date_to_unix(y, mon, d, h, min, s, unix_s);
		}
	}
	return false;
}

bool otlp_retry_parse_retry_after(const char *value, int64_t now_unix_s, int64_t *delay_ms)
{
	static const int64_t max_s = 86400; /* saturation: a day is "not within this export" anyway */
	if (value == NULL)
		return false;
	const char *p = value;
	while (is_blank(*p))
		p++;
	int64_t ms;
	if (is_digit(*p)) {
		int64_t sec = 0;
		while (is_digit(*p)) {
			if (sec < max_s)
				sec = sec * 10 + (*p - '0');
			p++;
		}
		ms = (sec < max_s ? sec : max_s) * 1000;
	} else {
		int64_t at;
		if (!parse_http_date(&p, now_unix_s, &at))
			return false;
		int64_t sec = at - now_unix_s;
		ms = sec <= 0 ? 0 : (sec < max_s ? sec : max_s) * 1000;
	}
	while (is_blank(*p) || *p == '\r' || *p == '\n')
		p++;
	if (*p != '\0')
		return false;
	*delay_ms = ms;
	return true;
}

/* ---- backoff and deadline ---- */

int64_t otlp_retry_backoff_ms(uint32_t retry, uint32_t initial_ms, uint32_t max_ms,
                              otlp_random_fn random, void *random_ctx)
{
	int64_t initial = initial_ms ? initial_ms : OTLP_RETRY_INITIAL_MS;
	int64_t max = max_ms ? max_ms : OTLP_RETRY_MAX_MS;
	if (max < initial)
		max = initial;
	int64_t base = initial;
	for (uint32_t i = 1; i < retry && base < max; i++)
		base *= 2;
	if (base > max)
		base = max;
	double u = random(random_ctx);
	if (!(u >= 0.0)) /* also NaN */
		u = 0.0;
	if (u >= 1.0)
		u = 0.999999;
	int64_t half = base / 2;
	return base - half + (int64_t)(u * (double)half);
}

bool otlp_retry_next_delay(uint32_t retry, int64_t retry_after_ms, int64_t now_ms, int64_t deadline_ms,
                           uint32_t initial_ms, uint32_t max_ms, otlp_random_fn random, void *random_ctx,
                           int64_t *delay_ms)
{
	int64_t delay;
	if (retry_after_ms >= 0)
		delay = retry_after_ms < OTLP_RETRY_AFTER_FLOOR_MS ? OTLP_RETRY_AFTER_FLOOR_MS : retry_after_ms;
	else
		delay = otlp_retry_backoff_ms(retry, initial_ms, max_ms, random, random_ctx);
	if (deadline_ms != INT64_MAX && (now_ms >= deadline_ms || delay >= deadline_ms - now_ms))
		return false;
	*delay_ms = delay;
	return true;
}

int64_t otlp_retry_deadline(int64_t now_ms, uint32_t timeout_ms, int64_t caller_deadline_ms)
{
	int64_t own = timeout_ms == 0 ? INT64_MAX : now_ms + (int64_t)timeout_ms;
	return own < caller_deadline_ms ? own : caller_deadline_ms;
}

int64_t otlp_retry_remaining_ms(int64_t now_ms, int64_t deadline_ms)
{
	if (deadline_ms == INT64_MAX)
		return INT64_MAX;
	return deadline_ms > now_ms ? deadline_ms - now_ms : 0;
}
