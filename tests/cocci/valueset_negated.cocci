@@
identifier f != {keep_me, also_keep};
@@
- f();
