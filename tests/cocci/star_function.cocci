// reports: 1
@@
identifier fn;
@@
* fn(..., Error **errp)
  {
  ...
  }
