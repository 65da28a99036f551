/*
 * http_int.h: byte classes shared by the http module's files.
 */
#ifndef UMBRA_HTTP_HTTP_INT_H
#define UMBRA_HTTP_HTTP_INT_H

/* tchar of RFC 9110 5.6.2: 1 for the bytes allowed in tokens. */
extern const unsigned char http__tchar[256];

#endif
