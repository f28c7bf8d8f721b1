@@
idexpression x;
@@
- x = x + 1;
+ x++;
