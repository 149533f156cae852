/* placeholder: implemented in progress */
#include "rudp_tp.h"
