@@
expression E;
@@
- old_size(E)
+ new_size(E)
