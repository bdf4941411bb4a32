"""The worker: plain handlers, the Faust app they run on and the wiring of both."""
