/* main.c - the astrotrain command: dispatches to the subcommands, owns the signal flag. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef AT_VERSION
#define AT_VERSION "dev"
#endif

/* The one piece of process-wide mutable state: set by SIGINT/SIGTERM, polled by long
 * work at safe points. */
static volatile int stop_requested;

static void on_signal(int sig) {
    /* Only a flag: a second signal must not kill us either, since tools such as timeout(1)
     * deliver the same signal twice (to the child and to its process group). */
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f) {
    fputs("astrotrain " AT_VERSION " - train and apply classifiers for astronomical catalogues\n"
          "\n"
          "usage:\n"
          "  astrotrain --config FILE.ini [--set section.key=value]... [--threads N] [--force] [--quiet]\n"
          "      run the experiment the INI file describes; results go to <output_dir>/<name>/\n"
          "  astrotrain experiment STUDY.ini [--set ...] [--threads N] [--force] [--quiet]\n"
          "      a whole study (shared split, several models, ensemble) with report.md and report.html\n"
          "  astrotrain predict --model MODEL.h5 --input FILE.csv[.gz] --output OUT.csv [--threads N]\n"
          "      apply a saved model (and its preprocessing) to a catalogue of any size\n"
          "  astrotrain transform --model MODEL.h5 --input FILE.csv[.gz] --output OUT.csv\n"
          "      project a catalogue with a saved PCA (a pca model, or any model's PCA stage)\n"
          "  astrotrain info --model MODEL.h5\n"
          "      what a model is, how it was trained and its test figures\n"
          "  astrotrain config --config FILE.ini [--set section.key=value]...   the effective configuration\n"
          "  astrotrain config --doc                                            every key, as markdown\n"
          "  astrotrain synth galaxy10 --out FILE.h5 [--n N] [--size S] [--seed K]\n"
          "      synthetic Galaxy10-layout images for trying the image pipeline\n"
          "  astrotrain serve --model MODEL.h5 [--model NAME=PATH ...] [--port 8080] [--bind ADDR]\n"
          "      serve models over HTTP: web page, V2 protocol, JSON/CSV/image predict, /metrics\n"
          "  astrotrain monitor --model MODEL.h5 --history DIR --input BATCH.csv[.gz] [--labels] [--batch NAME]\n"
          "      drift and accuracy of a new batch against the model's training reference (history + report)\n"
          "  astrotrain COMMAND --help     help for one command\n"
          "  astrotrain --version\n"
          "\n"
          "exit codes: 0 ok, 2 usage, 3 config, 4 data, 5 i/o, 6 model file, 7 memory, 8 interrupted,\n"
          "            9 internal error, 10 alert (monitor --fail-on-alert)\n",
          f);
}

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* Reads from a pipe or terminal resume after the signal instead of failing with EINTR
     * (an i/o error); the stop is seen at the next safe point. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    volatile int *stop = &stop_requested;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("astrotrain %s\n", AT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 1, argv + 1, stop);
    if (strcmp(cmd, "predict") == 0) return cmd_predict(argc - 1, argv + 1, stop);
    if (strcmp(cmd, "experiment") == 0) return cmd_experiment(argc - 1, argv + 1, stop);
    if (strcmp(cmd, "transform") == 0) return cmd_transform(argc - 1, argv + 1, stop);
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "config") == 0) return cmd_config(argc - 1, argv + 1);
    if (strcmp(cmd, "synth") == 0) return cmd_synth(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1, stop);
    if (strcmp(cmd, "monitor") == 0) return cmd_monitor(argc - 1, argv + 1, stop);
    if (cmd[0] == '-') return cmd_train(argc, argv, stop); /* astrotrain --config x.ini */
    return cli_usage("unknown command '%s'", cmd);
}
