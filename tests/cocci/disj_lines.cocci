@@
expression E;
@@
(
- legacy_lock(E);
+ qemu_mutex_lock(E);
|
- legacy_unlock(E);
+ qemu_mutex_unlock(E);
)
