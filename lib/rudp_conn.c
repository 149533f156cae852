/* placeholder */
#include <rudp/rudp.h>
