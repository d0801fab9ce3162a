#include "cmhd.h"
#include <netinet/in.h>
struct MHD_Daemon *cmhd_start_daemon(unsigned int flags, uint16_t port, MHD_AccessHandlerCallback dh,
                                     void *dh_cls, const struct MHD_OptionItem *options) {
    return MHD_start_daemon(flags, port, NULL, NULL, dh, dh_cls, MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}
uint16_t cmhd_bound_port(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}
