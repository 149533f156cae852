/* placeholder: implementation in progress */
#include "rudp_token.h"
