/* placeholder: implementation in progress */
#include "rudp_cc.h"
