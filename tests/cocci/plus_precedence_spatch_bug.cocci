// spatch: differs because it drops the parentheses that `a & b` needs inside `E << 1`
@@
expression E;
@@
- shl(E)
+ E << 1
