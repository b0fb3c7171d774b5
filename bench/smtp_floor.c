/* The least any SMTP client can do against bench/sink.py or bench/sink.c:
 * resolve the address, connect, TCP_NODELAY, read the greeting, EHLO, one
 * pipelined MAIL/5 RCPT/DATA group, an 8 KiB dot-stuffed body with the
 * final dot and QUIT in one write, count the reply lines, close. No
 * library, no parsing: the physical floor of scenario b.
 *
 *   smtp_floor PORT SESSIONS        SESSIONS sessions of one message
 *   smtp_floor PORT bulk MESSAGES   one session; per message one write of
 *                                   the group and one of the body and dot
 *   smtp_floor PORT tls SESSIONS CAFILE [resume]
 *                                   sessions of one message over STARTTLS
 *                                   (bench/sink.c with a certificate), the
 *                                   server verified against CAFILE as
 *                                   "localhost" with one process-wide
 *                                   context; with "resume", each offers the
 *                                   session the previous one got (a TLS 1.3
 *                                   ticket), as a TLS session cache does
 */
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>

static char buf[65536];
static SSL *tls; /* after STARTTLS */

/* Reads until `lines` reply lines have arrived. */
static void replies (int fd, int lines)
{
  while (lines > 0)
    {
      ssize_t r = tls != NULL ? SSL_read (tls, buf, sizeof buf) : recv (fd, buf, sizeof buf, 0);
      if (r <= 0)
        exit (1);
      for (ssize_t i = 0; i < r; i++)
        lines -= buf[i] == '\n';
    }
}

static void put (int fd, const char *s, size_t n)
{
  if ((tls != NULL ? SSL_write (tls, s, (int) n) : send (fd, s, n, MSG_NOSIGNAL)) != (ssize_t) n)
    exit (1);
}

static int connect_to (int port)
{
  struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
  char service[16];
  int fd, one = 1;
  snprintf (service, sizeof service, "%d", port);
  if (getaddrinfo ("127.0.0.1", service, &hints, &ai) != 0)
    exit (1);
  fd = socket (ai->ai_family, SOCK_STREAM, 0);
  if (fd < 0 || connect (fd, ai->ai_addr, ai->ai_addrlen) != 0)
    exit (1);
  freeaddrinfo (ai);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Sessions over STARTTLS: the TLS floor of scenario f. */
static int tls_sessions (int port, int n, const char *cafile, int resume, const char *group,
                         const char *body, size_t len)
{
  SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());
  SSL_SESSION *cached = NULL;
  int i, reused = 0;
  if (ctx == NULL || SSL_CTX_load_verify_locations (ctx, cafile, NULL) != 1)
    return 1;
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  for (i = 0; i < n; i++)
    {
      int fd = connect_to (port);
      replies (fd, 1);
      put (fd, "EHLO bench\r\n", 12);
      replies (fd, 5);
      put (fd, "STARTTLS\r\n", 10);
      replies (fd, 1);
      tls = SSL_new (ctx);
      SSL_set_fd (tls, fd);
      SSL_set_tlsext_host_name (tls, "localhost");
      SSL_set1_host (tls, "localhost");
      if (resume && cached != NULL)
        SSL_set_session (tls, cached);
      if (SSL_connect (tls) != 1 || SSL_get_verify_result (tls) != X509_V_OK)
        return 1;
      reused += SSL_session_reused (tls);
      put (fd, "EHLO bench\r\n", 12);
      replies (fd, 4);
      put (fd, group, strlen (group));
      replies (fd, 7);
      put (fd, body, len);
      replies (fd, 2);
      if (resume)
        {
          /* A TLS 1.3 ticket is good once: the one this session got. */
          SSL_SESSION_free (cached);
          cached = SSL_get1_session (tls);
        }
      SSL_shutdown (tls);
      SSL_free (tls);
      tls = NULL;
      close (fd);
    }
  SSL_SESSION_free (cached);
  SSL_CTX_free (ctx);
  printf ("ok %d sessions, %d TLS sessions resumed\n", n, reused);
  return 0;
}

int main (int argc, char **argv)
{
  static const char group[] = "MAIL FROM:<bench@example.org>\r\nRCPT TO:<r0@example.org>\r\n"
    "RCPT TO:<r1@example.org>\r\nRCPT TO:<r2@example.org>\r\nRCPT TO:<r3@example.org>\r\n"
    "RCPT TO:<r4@example.org>\r\nDATA\r\n";
  static char body[8192 + 16];
  int port, n, i, one = 1;
  size_t len = 0;
  int bulk = argc == 4 && strcmp (argv[2], "bulk") == 0;
  int tlsmode = (argc == 5 || argc == 6) && strcmp (argv[2], "tls") == 0;
  if (argc != 3 && !bulk && !tlsmode)
    return 2;
  port = atoi (argv[1]);
  n = atoi (argv[bulk || tlsmode ? 3 : 2]);
  while (len + 82 < 8192)
    {
      memset (body + len, 'x', 80);
      memcpy (body + len + 80, "\r\n", 2);
      len += 82;
    }
  memcpy (body + len, ".\r\nQUIT\r\n", 9);
  len += 9;
  if (tlsmode)
    return tls_sessions (port, n, argv[4], argc == 6 && strcmp (argv[5], "resume") == 0, group, body, len);
  if (bulk)
    {
      int fd = socket (AF_INET, SOCK_STREAM, 0);
      struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port) };
      a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      if (fd < 0 || connect (fd, (struct sockaddr *) &a, sizeof a) != 0)
        return 1;
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      replies (fd, 1);
      put (fd, "EHLO bench\r\n", 12);
      replies (fd, 4);
      for (i = 0; i < n; i++)
        {
          put (fd, group, sizeof group - 1);
          replies (fd, 7);
          put (fd, body, len - 6); /* without QUIT */
          replies (fd, 1);
        }
      put (fd, "QUIT\r\n", 6);
      replies (fd, 1);
      close (fd);
      printf ("ok %d messages\n", n);
      return 0;
    }
  for (i = 0; i < n; i++)
    {
      int fd = connect_to (port);
      replies (fd, 1);
      put (fd, "EHLO bench\r\n", 12);
      replies (fd, 4);
      put (fd, group, sizeof group - 1);
      replies (fd, 7);
      put (fd, body, len);
      replies (fd, 2);
      close (fd);
    }
  printf ("ok %d sessions\n", n);
  return 0;
}
