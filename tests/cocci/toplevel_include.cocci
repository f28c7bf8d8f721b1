@@
@@
  #include "qemu/osdep.h"
+ #include "qapi/error.h"
