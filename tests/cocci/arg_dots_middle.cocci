@@
expression E;
@@
- log_msg(..., E, ...);
+ log_msg_v(E);
