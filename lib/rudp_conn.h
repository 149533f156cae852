#ifndef RUDP_CONN_H
#define RUDP_CONN_H
#endif
