/*
 * plugin.h: finding the application a program runs: a built-in one by name
 * ("testapp", "chat") or a shared object by path, loaded with dlopen and
 * checked before use.
 */
#ifndef SIO_PLUGIN_H
#define SIO_PLUGIN_H

#include "config.h"
#include "siogate.h"

/*
 * Returns the plugin named by spec: a built-in name, or a path (containing
 * '/' or ending in ".so") to a shared object exporting SIO_PLUGIN_SYMBOL.
 * NULL with the reason in err when it cannot be loaded, has another
 * SIO_API_VERSION or no root app. A loaded object stays loaded.
 */
const struct sio_plugin *sio_plugin_load(const char *spec, char *err);

/*
 * What every program does first: reads the configuration file named by
 * arg (else $SIOGATE_CONF, else SIO_CONFIG_DEFAULT, which may be absent:
 * then the defaults alone) over the defaults into cfg, then loads cfg's
 * app into *plugin. SIO_OK, or SIO_ERR with "file:line: reason" or "app
 * NAME: reason" in err: a configuration error either way.
 */
int sio_plugin_setup(const char *arg, struct sio_config *cfg,
                     const struct sio_plugin **plugin, char *err);

/* The app of endpoint in p, or NULL. */
const struct sio_app *sio_plugin_app(const struct sio_plugin *p,
                                     const char *endpoint);

/* The built-in plugins, ending with NULL. */
const struct sio_plugin *const *sio_plugin_builtins(void);

/* The table sio_plugin_builtins() returns, ending with NULL: not defined
 * in the core but where the program is linked (the build generates it
 * from examples/NAME/NAME.c, each defining sio_NAME_plugin). */
extern const struct sio_plugin *const sio_plugin_builtin_apps[];

#endif
