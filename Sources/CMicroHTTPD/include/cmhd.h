#ifndef CMHD_H
#define CMHD_H
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>
/* MHD_start_daemon is variadic; this passes the options as an MHD_OPTION_ARRAY. */
struct MHD_Daemon *cmhd_start_daemon(unsigned int flags, uint16_t port, MHD_AccessHandlerCallback dh,
                                     void *dh_cls, const struct MHD_OptionItem *options);
/* The port the daemon actually bound (useful with port 0), or 0. */
uint16_t cmhd_bound_port(struct MHD_Daemon *d);
#endif
