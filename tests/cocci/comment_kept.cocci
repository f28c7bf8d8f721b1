@@
@@
- old_fn();
+ new_fn();
