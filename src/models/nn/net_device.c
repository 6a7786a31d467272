/* net_device.c - a network on a device backend (issue 17): the device copies of its
 * parameters, gradients and batch-norm statistics (nn_net.dparams/dgrads/dstats), which the
 * layers and the optimiser use through nn_params/nn_grads/nn_stats, and their moves between
 * host and device. The host vectors stay the master copy for saving and checkpoints: a
 * caller downloads before it reads them and uploads after it changes them. On the CPU
 * backend every function here is a no-op beyond setting the backend. */
#include <stdlib.h>

#include "models/nn/nn.h"

static void release_device(nn_net *net) {
    const at_nn_backend *be = net->be;
    if (be && be->on_device) {
        be->release(be, net->dparams), be->release(be, net->dgrads), be->release(be, net->dstats);
    }
    net->dparams = net->dgrads = net->dstats = NULL;
}

at_status nn_net_attach(nn_net *net, const at_nn_backend *be, at_error *err) {
    if (net->be == be) return AT_OK;
    nn_net_detach(net);
    net->be = be;
    if (!be->on_device) return AT_OK;
    size_t np = net->np ? net->np : 1, ns = net->ns ? net->ns : 1;
    net->dparams = be->alloc(be, np, sizeof(float));
    net->dgrads = be->alloc(be, np, sizeof(float));
    net->dstats = be->alloc(be, ns, sizeof(float));
    if (!net->dparams || !net->dgrads || !net->dstats) {
        release_device(net);
        net->be = nn_backend_cpu();
        return at_fail(err, AT_ERR_MEMORY,
                       "out of GPU memory for the network's %zu parameters on %s: use a smaller network or "
                       "--device cpu", net->np, be->name);
    }
    be->zero(be, net->dgrads, np * sizeof(float));
    nn_net_upload(net);
    return AT_OK;
}

void nn_net_upload(nn_net *net) {
    const at_nn_backend *be = net->be;
    if (!net->dparams) return;
    be->to_device(be, net->dparams, net->params, net->np * sizeof(float));
    be->to_device(be, net->dstats, net->stats, net->ns * sizeof(float));
}

void nn_net_download(nn_net *net) {
    const at_nn_backend *be = net->be;
    if (!net->dparams) return;
    be->to_host(be, net->params, net->dparams, net->np * sizeof(float));
    be->to_host(be, net->stats, net->dstats, net->ns * sizeof(float));
}

void nn_net_download_grads(nn_net *net) {
    if (net->dgrads) net->be->to_host(net->be, net->grads, net->dgrads, net->np * sizeof(float));
}

void nn_net_detach(nn_net *net) {
    if (!net->dparams) return;
    nn_net_download(net);
    nn_net_download_grads(net);
    release_device(net);
    net->be = nn_backend_cpu();
}
