/* placeholder: simulator in progress */
#ifndef RUDP_SIM_H
#define RUDP_SIM_H
#endif
