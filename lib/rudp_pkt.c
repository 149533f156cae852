/* placeholder: implemented in progress */
#include "rudp_pkt.h"
