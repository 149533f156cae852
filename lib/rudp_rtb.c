/* placeholder: implementation in progress */
#include "rudp_rtb.h"
