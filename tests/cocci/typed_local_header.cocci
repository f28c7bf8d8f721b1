// Types also come from `#include "x.h"` headers next to the file, as spatch reads them
// by default (not headers on an include path: Bus stays unknown to both tools).
@@
type T;
T v;
@@
-	(T *)&v
+	&v
