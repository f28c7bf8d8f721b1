/*
 * QEMU error objects (qemu-mini example tree)
 *
 * A function that can fail takes "Error **errp" as its last parameter,
 * sets *errp with error_setg() on failure and returns a value that says
 * so (false, NULL or a negative errno). Callers pass &err, &error_fatal
 * (exit on error) or &error_abort (abort on error).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef ERROR_H
#define ERROR_H

extern Error *error_fatal;
extern Error *error_abort;

#define error_setg(errp, fmt, ...)                                      \
    error_setg_internal((errp), __FILE__, __LINE__, __func__,           \
                        (fmt), ## __VA_ARGS__)
#define error_setg_errno(errp, os_error, fmt, ...)                      \
    error_setg_errno_internal((errp), __FILE__, __LINE__, __func__,     \
                              (os_error), (fmt), ## __VA_ARGS__)

void error_setg_internal(Error **errp, const char *src, int line,
                         const char *func, const char *fmt, ...)
    G_GNUC_PRINTF(5, 6);
void error_setg_errno_internal(Error **errp, const char *src, int line,
                               const char *func, int os_error,
                               const char *fmt, ...)
    G_GNUC_PRINTF(6, 7);

void error_propagate(Error **dst_errp, Error *local_err);
const char *error_get_pretty(const Error *err);
void error_free(Error *err);
void error_report_err(Error *err);

#endif
