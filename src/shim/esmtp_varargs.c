/*
 * The variadic entry points of libesmtp.so.6. Stable Rust cannot define a
 * variadic function, so these read their arguments and call the Rust side.
 * Which arguments smtp_set_header takes depends on the header, so the Rust
 * side is asked first and only those are read from the va_list.
 */
#include <stdarg.h>
#include <stddef.h>

struct smtp_message;

int mailcompat_esmtp_header_arity(struct smtp_message *message, const char *name);
int mailcompat_esmtp_set_header(struct smtp_message *message, const char *name,
                                const void *a, const void *b);
int mailcompat_esmtp_set_header_option(struct smtp_message *message, const char *name,
                                       int option, int flag);

int smtp_set_header(struct smtp_message *message, const char *header, ...)
{
    const void *a = NULL, *b = NULL;
    int arity = mailcompat_esmtp_header_arity(message, header);
    va_list ap;

    va_start(ap, header);
    if (arity >= 1)
        a = va_arg(ap, const void *);
    if (arity >= 2)
        b = va_arg(ap, const void *);
    va_end(ap);
    return mailcompat_esmtp_set_header(message, header, a, b);
}

int smtp_set_header_option(struct smtp_message *message, const char *header,
                           int option, ...)
{
    int flag = 0;
    va_list ap;

    /* Hdr_OVERRIDE (0) and Hdr_PROHIBIT (1) take one int; nothing else is
       read for an unknown option, which the Rust side refuses. */
    va_start(ap, option);
    if (option == 0 || option == 1)
        flag = va_arg(ap, int);
    va_end(ap);
    return mailcompat_esmtp_set_header_option(message, header, option, flag);
}
