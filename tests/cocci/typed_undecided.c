typedef struct Req {
    Header hdr;
} Req;

Req *current_req(void);

void submit(Req *req)
{
    post((Header *)&req->hdr);
    post((Header *)&current_req()->hdr);
}
