/*
 * plugin.c: loading applications (see plugin.h). The built-in examples are
 * linked into every program; others come from shared objects that resolve
 * siogate's API against the program that loads them.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "plugin.h"

extern const struct sio_plugin sio_testapp_plugin;
extern const struct sio_plugin sio_chat_plugin;
extern const struct sio_plugin sio_multiplexed_plugin;
extern const struct sio_plugin sio_ackping_plugin;
extern const struct sio_plugin sio_rpcping_plugin;
extern const struct sio_plugin sio_stats_plugin;
extern const struct sio_plugin sio_transports_plugin;

static const struct sio_plugin *const builtins[] = {
    &sio_testapp_plugin,
    &sio_chat_plugin,
    &sio_multiplexed_plugin,
    &sio_ackping_plugin,
    &sio_rpcping_plugin,
    &sio_stats_plugin,
    &sio_transports_plugin,
    NULL,
};

const struct sio_plugin *const *
sio_plugin_builtins(void)
{
	return builtins;
}

const struct sio_app *
sio_plugin_app(const struct sio_plugin *p, const char *endpoint)
{
	for (const struct sio_app *const *a = p->apps; *a; a++)
		if (strcmp((*a)->endpoint, endpoint) == 0)
			return *a;
	return NULL;
}

static int
plugin_check(const struct sio_plugin *p, const char *spec, char *err)
{
	if (p->api_version != SIO_API_VERSION) {
		snprintf(err, SIO_ERR_LEN, "%s: API version %d, expected %d",
		         spec, p->api_version, SIO_API_VERSION);
		return SIO_ERR;
	}
	if (p->apps == NULL || sio_plugin_app(p, "") == NULL) {
		snprintf(err, SIO_ERR_LEN, "%s: no app for the root endpoint",
		         spec);
		return SIO_ERR;
	}
	return SIO_OK;
}

const struct sio_plugin *
sio_plugin_load(const char *spec, char *err)
{
	const struct sio_plugin *p;
	size_t len = strlen(spec);
	void *h;

	if (strchr(spec, '/') == NULL &&
	    (len < 3 || strcmp(spec + len - 3, ".so") != 0)) {
		size_t n;

		for (int i = 0; builtins[i]; i++)
			if (strcmp(builtins[i]->name, spec) == 0)
				return builtins[i];
		n = (size_t)snprintf(err, SIO_ERR_LEN,
		                     "no built-in app '%.64s' (built in:", spec);
		for (int i = 0; builtins[i] && n < SIO_ERR_LEN; i++)
			n += (size_t)snprintf(err + n, SIO_ERR_LEN - n, " %s",
			                      builtins[i]->name);
		if (n < SIO_ERR_LEN)
			snprintf(err + n, SIO_ERR_LEN - n, ")");
		return NULL;
	}
	h = dlopen(spec, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, SIO_ERR_LEN, "%s", dlerror());
		return NULL;
	}
	p = dlsym(h, SIO_PLUGIN_SYMBOL);
	if (p == NULL) {
		snprintf(err, SIO_ERR_LEN, "%s: no symbol '%s'", spec,
		         SIO_PLUGIN_SYMBOL);
		dlclose(h);
		return NULL;
	}
	if (plugin_check(p, spec, err) != SIO_OK) {
		dlclose(h);
		return NULL;
	}
	return p;
}

int
sio_plugin_setup(const char *arg, struct sio_config *cfg,
                 const struct sio_plugin **plugin, char *err)
{
	char why[SIO_ERR_LEN];

	if (sio_config_read(cfg, arg, err) != SIO_OK)
		return SIO_ERR;
	*plugin = sio_plugin_load(cfg->app, why);
	if (*plugin == NULL) {
		snprintf(err, SIO_ERR_LEN, "app %.64s: %.180s", cfg->app, why);
		return SIO_ERR;
	}
	return SIO_OK;
}
