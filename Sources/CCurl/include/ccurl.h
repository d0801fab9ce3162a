#ifndef CCURL_H
#define CCURL_H
#include <curl/curl.h>
/* Typed wrappers: curl_easy_setopt/getinfo are variadic and do not import into Swift. */
CURLcode ccurl_setopt_long(CURL *h, CURLoption opt, long v);
CURLcode ccurl_setopt_off(CURL *h, CURLoption opt, curl_off_t v);
CURLcode ccurl_setopt_string(CURL *h, CURLoption opt, const char *v);
CURLcode ccurl_setopt_pointer(CURL *h, CURLoption opt, void *v);
typedef size_t (*ccurl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
CURLcode ccurl_setopt_datacb(CURL *h, CURLoption opt, ccurl_data_cb cb);
CURLcode ccurl_getinfo_long(CURL *h, CURLINFO info, long *out);
CURLcode ccurl_getinfo_off(CURL *h, CURLINFO info, curl_off_t *out);
#endif
