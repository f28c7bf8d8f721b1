@@
expression T;
@@
-timer_del(T);
 timer_free(T);
