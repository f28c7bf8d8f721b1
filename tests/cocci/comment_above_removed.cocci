// Removing whole lines drops the comment lines right above them (no blank line between), not others.
@@
@@
- legacy_notify(p);

@@
expression E;
@@
- legacy_notify(E);
+ port_notify(E);
