@@
expression E;
@@
  if (E < 0) {
  ...
- return -1;
+ return -EINVAL;
  }
