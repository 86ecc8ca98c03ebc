/*
 * http.c: Accept-Encoding and If-None-Match, for the gateway's static files
 * (see http.h). Both headers are comma-separated lists; an element that
 * does not parse is skipped rather than failing the whole header, as
 * browsers and proxies send what they like.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define HTTP_SPACE " \t"

/* The q-value of one Accept-Encoding element's parameters, p..end (";q=0.5"
 * and the like): 1000ths, 1000 when absent, -1 when malformed. */
static int
http_qvalue(const char *p, const char *end)
{
	while (p < end) {
		const char *semi;
		int q = 0, digits = 0;

		p += strspn(p, HTTP_SPACE ";");
		if (p >= end)
			break;
		semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL)
			semi = end;
		if (end - p < 2 || (p[0] != 'q' && p[0] != 'Q') ||
		    p[1] != '=') {
			p = semi; /* another parameter: not ours */
			continue;
		}
		p += 2;
		if (p < semi && (*p == '0' || *p == '1'))
			q = (*p++ - '0') * 1000;
		else
			return -1;
		if (p < semi && *p == '.')
			for (p++;
			     p < semi && *p >= '0' && *p <= '9' && digits < 3;
			     digits++, p++)
				q += (*p - '0') * (digits == 0   ? 100
				                   : digits == 1 ? 10
				                                 : 1);
		p += strspn(p, HTTP_SPACE);
		if (p != semi || q > 1000)
			return -1;
		return q;
	}
	return 1000;
}

int
sio_http_accepts(const char *header, const char *coding)
{
	int named = -1, star = -1;

	if (header == NULL)
		return 0;
	for (const char *p = header; *p != '\0';) {
		size_t n = strcspn(p, ","), tok;
		const char *end = p + n;
		int q;

		p += strspn(p, HTTP_SPACE);
		tok = strcspn(p, HTTP_SPACE ";,");
		q = http_qvalue(p + tok, end);
		if (q >= 0 && tok > 0) {
			if (tok == 1 && *p == '*')
				star = q;
			else if ((tok == strlen(coding) &&
			          strncasecmp(p, coding, tok) == 0) ||
			         (strcmp(coding, "gzip") == 0 && tok == 6 &&
			          strncasecmp(p, "x-gzip", 6) == 0))
				named = q > named ? q : named;
		}
		p = *end == ',' ? end + 1 : end;
	}
	/* a coding named by itself wins over "*" (gzip;q=0, *) */
	return named >= 0 ? named > 0 : star > 0;
}

int
sio_http_etag_match(const char *header, const char *etag)
{
	size_t elen = strlen(etag);

	if (header == NULL)
		return 0;
	for (const char *p = header; *p != '\0';) {
		const char *q;

		p += strspn(p, HTTP_SPACE ",");
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p != '"') { /* not an entity tag: skip to the next */
			p += strcspn(p, ",");
			continue;
		}
		q = strchr(p + 1, '"');
		if (q == NULL)
			return 0;
		if ((size_t)(q + 1 - p) == elen && memcmp(p, etag, elen) == 0)
			return 1;
		p = q + 1;
		p += strcspn(p, ",");
	}
	return 0;
}
