/* json_out.h: the policy test clients print what they see as JSON lines;
   this writes one string value, escaped.  Included by policy_client.c,
   mx_client.c and tlsrpt_client.c.  */
#ifndef JSON_OUT_H
#define JSON_OUT_H
#include <stdio.h>

static void put_json_str (const char *s)
{
  putchar ('"');
  for (; s != NULL && *s; s++)
    {
      unsigned char c = (unsigned char) *s;
      if (c == '"' || c == '\\')
        printf ("\\%c", c);
      else if (c < 0x20)
        printf ("\\u%04x", c);
      else
        putchar (c);
    }
  putchar ('"');
}
#endif
