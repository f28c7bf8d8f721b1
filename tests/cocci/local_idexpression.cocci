@@
local idexpression x;
@@
- x = x * 2;
+ x <<= 1;
