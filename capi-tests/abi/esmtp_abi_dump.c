/* Prints every constant, struct layout and type property of libesmtp.h and
 * auth-client.h that a C program can depend on. Compiled once against
 * Debian's headers and once against ours; the two outputs must be equal.
 */
#include <stddef.h>
#include <stdio.h>
#include <openssl/ssl.h>
#include <auth-client.h>
#include <libesmtp.h>

#define V(x) printf ("%-40s %ld\n", #x, (long) (x))
#define SIZE(t) printf ("sizeof(%s) %zu\n", #t, sizeof (t))
#define OFF(t, f) printf ("offsetof(%s, %s) %zu\n", #t, #f, offsetof (t, f))
/* Whether an enum type is signed (GCC picks unsigned int for enums without
   negative values: it must match for prototypes to be compatible). */
static volatile int minus_one = -1;
static int negative (long v) { return v < 0; }
#define SIGNED_ENUM(t) printf ("signed(%s) %d\n", #t, negative ((long) (t) minus_one))

int main (void)
{
  V (Ver_VERSION); V (Ver_SO_VERSION); V (Ver_LT_VERSION);
  V (Hdr_OVERRIDE); V (Hdr_PROHIBIT);
  V (SMTP_EV_CONNECT); V (SMTP_EV_MAILSTATUS); V (SMTP_EV_RCPTSTATUS);
  V (SMTP_EV_MESSAGEDATA); V (SMTP_EV_MESSAGESENT); V (SMTP_EV_DISCONNECT);
  V (SMTP_EV_SYNTAXWARNING); V (SMTP_EV_ETRNSTATUS);
  V (SMTP_EV_EXTNA_DSN); V (SMTP_EV_EXTNA_8BITMIME); V (SMTP_EV_EXTNA_STARTTLS);
  V (SMTP_EV_EXTNA_ETRN); V (SMTP_EV_EXTNA_CHUNKING); V (SMTP_EV_EXTNA_BINARYMIME);
  V (SMTP_EV_DELIVERBY_EXPIRED);
  V (SMTP_EV_WEAK_CIPHER); V (SMTP_EV_STARTTLS_OK); V (SMTP_EV_INVALID_PEER_CERTIFICATE);
  V (SMTP_EV_NO_PEER_CERTIFICATE); V (SMTP_EV_WRONG_PEER_CERTIFICATE);
  V (SMTP_EV_NO_CLIENT_CERTIFICATE); V (SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE);
  V (SMTP_EV_UNUSABLE_CA_LIST);
  V (Timeout_GREETING); V (Timeout_ENVELOPE); V (Timeout_DATA); V (Timeout_TRANSFER);
  V (Timeout_DATA2); V (Timeout_OVERRIDE_RFC2822_MINIMUM);
  V (Ret_NOTSET); V (Ret_FULL); V (Ret_HDRS);
  V (Notify_NOTSET); V (Notify_NEVER); V (Notify_SUCCESS); V (Notify_FAILURE); V (Notify_DELAY);
  V (E8bitmime_NOTSET); V (E8bitmime_7BIT); V (E8bitmime_8BITMIME); V (E8bitmime_BINARYMIME);
  V (By_NOTSET); V (By_NOTIFY); V (By_RETURN);
  V (Starttls_DISABLED); V (Starttls_ENABLED); V (Starttls_REQUIRED);
  V (SMTP_ERR_NOTHING_TO_DO); V (SMTP_ERR_DROPPED_CONNECTION);
  V (SMTP_ERR_INVALID_RESPONSE_SYNTAX); V (SMTP_ERR_STATUS_MISMATCH);
  V (SMTP_ERR_INVALID_RESPONSE_STATUS); V (SMTP_ERR_INVAL);
  V (SMTP_ERR_EXTENSION_NOT_AVAILABLE); V (SMTP_ERR_HOST_NOT_FOUND); V (SMTP_ERR_NO_ADDRESS);
  V (SMTP_ERR_NO_RECOVERY); V (SMTP_ERR_TRY_AGAIN); V (SMTP_ERR_EAI_AGAIN); V (SMTP_ERR_EAI_FAIL);
  V (SMTP_ERR_EAI_MEMORY); V (SMTP_ERR_EAI_ADDRFAMILY); V (SMTP_ERR_EAI_NODATA);
  V (SMTP_ERR_EAI_FAMILY); V (SMTP_ERR_EAI_BADFLAGS); V (SMTP_ERR_EAI_NONAME);
  V (SMTP_ERR_EAI_SERVICE); V (SMTP_ERR_EAI_SOCKTYPE); V (SMTP_ERR_UNTERMINATED_RESPONSE);
  V (SMTP_ERR_CLIENT_ERROR);
  V (SMTP_CB_READING); V (SMTP_CB_WRITING); V (SMTP_CB_HEADERS);
  V (AUTH_USER); V (AUTH_REALM); V (AUTH_PASS); V (AUTH_CLEARTEXT);
  V (AUTH_PLUGIN_ANONYMOUS); V (AUTH_PLUGIN_PLAIN); V (AUTH_PLUGIN_EXTERNAL);

  SIZE (smtp_status_t); SIZE (struct smtp_status);
  OFF (struct smtp_status, code); OFF (struct smtp_status, text);
  OFF (struct smtp_status, enh_class); OFF (struct smtp_status, enh_subject);
  OFF (struct smtp_status, enh_detail);
  SIZE (struct auth_client_request);
  OFF (struct auth_client_request, name); OFF (struct auth_client_request, flags);
  OFF (struct auth_client_request, prompt); OFF (struct auth_client_request, size);
  SIZE (enum header_option); SIZE (enum rfc2822_timeouts); SIZE (enum ret_flags);
  SIZE (enum notify_flags); SIZE (enum e8bitmime_body); SIZE (enum by_mode);
  SIZE (enum starttls_option);
  SIGNED_ENUM (enum header_option); SIGNED_ENUM (enum rfc2822_timeouts);
  SIGNED_ENUM (enum ret_flags); SIGNED_ENUM (enum notify_flags);
  SIGNED_ENUM (enum e8bitmime_body); SIGNED_ENUM (enum by_mode);
  SIGNED_ENUM (enum starttls_option);

  {
    /* The macros expand to calls with the documented callbacks. */
    smtp_message_t m = NULL;
    printf ("smtp_set_message_fp is a macro: %d\n", (int) sizeof (smtp_set_message_fp (m, stdin)));
    printf ("smtp_set_message_str is a macro: %d\n", (int) sizeof (smtp_set_message_str (m, "x")));
  }
  return 0;
}
