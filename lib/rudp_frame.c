/* placeholder: implemented in progress */
#include "rudp_frame.h"
