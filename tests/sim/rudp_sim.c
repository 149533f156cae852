/* placeholder: simulator in progress */
#include "rudp_sim.h"
typedef int rudp_sim_placeholder;
