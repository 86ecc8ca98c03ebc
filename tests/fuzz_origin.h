/*
 * fuzz_origin.h: the fuzz target over who may connect: the `origins`
 * patterns and the Origin header matched against them, `stats_allow` and
 * REMOTE_ADDR, the Flash policy XML built from the same patterns, and the
 * policy request. The input's first line is the setting's value, the rest
 * (to a NUL) the header or address; the whole input is also a first read
 * of a flash connection. Included by fuzz_body.h only.
 */
#ifndef SIO_FUZZ_ORIGIN_H
#define SIO_FUZZ_ORIGIN_H

#define FUZZ_ORIGIN_SEP " \t,"

/* The policy request: the 23 bytes, a prefix of them, or refused. */
static void
fuzz_origin_policy_request(const char *s, size_t size)
{
	static const char req[] = WSD_POLICY_REQUEST; /* and its NUL */
	size_t n = size < sizeof(req) ? size : sizeof(req);
	int rc = wsd_policy_is_request(s, size);

	if (memcmp(s, req, n) != 0)
		FUZZ_CHECK(rc == SIO_ERR);
	else
		FUZZ_CHECK(rc == (size < sizeof(req) ? SIO_AGAIN
		                                     : WSD_POLICY_REQUEST_LEN));
}

/* The XML: one element per pattern, and no attribute that could hold a
 * quote or a tag (every '&' starts one of the five entities). */
static void
fuzz_origin_policy_xml(const char *patterns, int ok)
{
	static const char elem[] = "<allow-access-from domain=\"";
	struct sio_buf b;
	const char *p, *end;
	size_t n = 0, want = 0, len;
	int rc;

	sio_buf_init(&b);
	rc = wsd_policy_encode(&b, patterns, WSD_POLICY_INLINE);
	if (ok)
		FUZZ_CHECK(rc == SIO_OK);
	if (rc != SIO_OK) {
		FUZZ_CHECK(b.len == 0);
		sio_buf_cleanup(&b);
		return;
	}
	for (p = patterns; *(p += strspn(p, FUZZ_ORIGIN_SEP)) != '\0'; p += len)
		len = strcspn(p, FUZZ_ORIGIN_SEP), want++;
	FUZZ_CHECK(b.len > 0 && b.p[b.len - 1] == '\0');
	end = b.p + b.len - 1;
	FUZZ_CHECK(memchr(b.p, '\0', b.len - 1) == NULL);
	for (p = strstr(b.p, elem); p != NULL; p = strstr(p, elem), n++) {
		p += sizeof(elem) - 1;
		len = strcspn(p, "\"<>");
		FUZZ_CHECK(p + len < end && p[len] == '"');
		for (const char *a = p; a < p + len; a++)
			FUZZ_CHECK(*a != '&' || strncmp(a, "&amp;", 5) == 0 ||
			           strncmp(a, "&lt;", 4) == 0 ||
			           strncmp(a, "&gt;", 4) == 0 ||
			           strncmp(a, "&quot;", 6) == 0 ||
			           strncmp(a, "&apos;", 6) == 0);
		p += len;
		FUZZ_CHECK(strncmp(p, "\" to-ports=\"", 12) == 0);
		p += 12;
		len = strspn(p, "0123456789*");
		FUZZ_CHECK(len > 0 && strncmp(p + len, "\"/>", 3) == 0);
	}
	FUZZ_CHECK(n == want);
	sio_buf_cleanup(&b);
}

/* An origin the pattern p[0..len) names is allowed, in any case; when it
 * is the only pattern (alone), nothing else is. */
static void
fuzz_origin_named(const struct sio_config *c, const char *p, size_t len,
                  int alone)
{
	char origin[1200];
	size_t colon = len, i;

	while (colon > 0 && p[colon - 1] != ':')
		colon--;
	/* Host names only: a pattern may hold what no Origin header can. */
	if (colon < 2 || (colon == 2 && p[0] == '*') ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	              "0123456789.-") != colon - 1)
		return;
	snprintf(origin, sizeof(origin), "http://%.*s:%.*s", (int)(colon - 1),
	         p, (int)(len - colon), p + colon);
	if (p[colon] == '*')
		snprintf(origin + strlen(origin) - 1, 7, "8080");
	FUZZ_CHECK(sio_config_origin_allowed(c, origin) == 1);
	for (i = 0; origin[i] != '\0'; i++)
		origin[i] = (char)toupper((unsigned char)origin[i]);
	FUZZ_CHECK(sio_config_origin_allowed(c, origin) == 1);
	if (!alone)
		return;
	/* The only pattern: another host or port is refused. */
	snprintf(origin, sizeof(origin), "http://%.*sx:%.*s", (int)(colon - 1),
	         p, (int)(len - colon), p + colon);
	FUZZ_CHECK(p[colon] == '*' ||
	           sio_config_origin_allowed(c, origin) == 0);
	snprintf(origin, sizeof(origin), "http://x%.*s:1%.*s", (int)(colon - 1),
	         p, (int)(len - colon), p + colon);
	FUZZ_CHECK(sio_config_origin_allowed(c, origin) == 0);
	snprintf(origin, sizeof(origin), "http://%.*s:%.*s1", (int)(colon - 1),
	         p, (int)(len - colon), p + colon);
	FUZZ_CHECK(p[colon] == '*' ||
	           sio_config_origin_allowed(c, origin) == 0);
}

static void
fuzz_origin_origins(const char *patterns, const char *origin)
{
	struct sio_config c;
	char err[SIO_ERR_LEN], lower[1024];
	const char *p;
	size_t len, i;
	int any = 0, n = 0, rc;

	sio_config_defaults(&c);
	rc = sio_config_set(&c, "origins", patterns, err);
	fuzz_origin_policy_xml(patterns, rc == SIO_OK);
	if (rc != SIO_OK)
		return;
	for (p = c.origins; *(p += strspn(p, FUZZ_ORIGIN_SEP)) != '\0';
	     p += len)
		len = strcspn(p, FUZZ_ORIGIN_SEP), n++;
	for (p = c.origins; *(p += strspn(p, FUZZ_ORIGIN_SEP)) != '\0';
	     p += len) {
		len = strcspn(p, FUZZ_ORIGIN_SEP);
		any |= len == 3 && memcmp(p, "*:*", 3) == 0;
		fuzz_origin_named(&c, p, len, n == 1);
	}
	rc = sio_config_origin_allowed(&c, origin);
	FUZZ_CHECK(rc == 0 || rc == 1);
	FUZZ_CHECK(!any || rc == 1);
	FUZZ_CHECK(sio_config_origin_allowed(&c, "") == any &&
	           sio_config_origin_allowed(&c, NULL) == any);
	/* Scheme, host and port compare in any case. */
	for (i = 0; origin[i] != '\0' && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)origin[i]);
	lower[i] = '\0';
	if (origin[i] == '\0')
		FUZZ_CHECK(sio_config_origin_allowed(&c, lower) == rc);
}

/* The reference: addr (IPv4-mapped or not) is a whole entry of list. */
static int
fuzz_origin_listed(const char *list, const char *addr)
{
	size_t len;

	if (strncasecmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.'))
		addr += 7;
	for (; *(list += strspn(list, FUZZ_ORIGIN_SEP)) != '\0'; list += len) {
		len = strcspn(list, FUZZ_ORIGIN_SEP);
		if (*addr != '\0' && strlen(addr) == len &&
		    strncasecmp(list, addr, len) == 0)
			return 1;
	}
	return 0;
}

static void
fuzz_origin_stats(const char *allow, const char *addr)
{
	struct sio_config c;
	char err[SIO_ERR_LEN], one[600];
	const char *p;
	size_t len;
	int rc;

	sio_config_defaults(&c);
	if (sio_config_set(&c, "stats_allow", allow, err) != SIO_OK)
		return;
	rc = sio_config_stats_allowed(&c, addr);
	FUZZ_CHECK(rc == fuzz_origin_listed(c.stats_allow, addr));
	FUZZ_CHECK(sio_config_stats_allowed(&c, NULL) == 0 &&
	           sio_config_stats_allowed(&c, "") == 0);
	if (strcmp(c.stats_allow, "none") == 0) {
		FUZZ_CHECK(sio_config_stats_allowed(&c, "127.0.0.1") == 0 &&
		           sio_config_stats_allowed(&c, "::1") == 0);
		return;
	}
	/* Each listed address is allowed, an IPv4 one also IPv4-mapped. */
	for (p = c.stats_allow; *(p += strspn(p, FUZZ_ORIGIN_SEP)) != '\0';
	     p += len) {
		len = strcspn(p, FUZZ_ORIGIN_SEP);
		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if (strncasecmp(one, "::ffff:", 7) == 0 &&
		    strchr(one + 7, '.') != NULL)
			continue; /* a mapped entry never matches */
		FUZZ_CHECK(sio_config_stats_allowed(&c, one) == 1);
		/* One character more or less is another address. */
		one[len - 1] = '\0';
		FUZZ_CHECK(sio_config_stats_allowed(&c, one) ==
		           fuzz_origin_listed(c.stats_allow, one));
		snprintf(one, sizeof(one), "%.*s0", (int)len, p);
		FUZZ_CHECK(sio_config_stats_allowed(&c, one) ==
		           fuzz_origin_listed(c.stats_allow, one));
		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if (strchr(one, '.') != NULL) {
			snprintf(one, sizeof(one), "::ffff:%.*s", (int)len, p);
			FUZZ_CHECK(sio_config_stats_allowed(&c, one) == 1);
		}
	}
}

static void
fuzz_origin(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *nl;
	const char *rest = "";

	fuzz_origin_policy_request((const char *)data, size);
	nl = strchr(s, '\n');
	if (nl != NULL) {
		*nl = '\0';
		rest = nl + 1;
	}
	fuzz_origin_origins(s, rest);
	fuzz_origin_stats(s, rest);
	free(s);
}

#endif
