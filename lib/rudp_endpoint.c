/* placeholder: implementation in progress */
#include "rudp_conn.h"
