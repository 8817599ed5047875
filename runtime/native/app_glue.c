/* Instantiates the app's wasm module (wasm2c output, module name "app") and
 * runs it: first its start function (static initialisers, exported as
 * tsxen_start by asc --exportStart), then the runtime's entry tsxen_main. */
#include "app.h"
#include "kernel.h"

static Z_app_instance_t app;
void *wasm_memory;

void wasm_app_run(void)
{
    wasm_rt_init();
    Z_app_init_module();
    Z_app_instantiate(&app, 0);
    wasm_memory = Z_appZ_memory(&app);
    Z_appZ_tsxen_start(&app);
    Z_appZ_tsxen_main(&app);
}
