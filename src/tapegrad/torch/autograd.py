"""torch.autograd: backward, grad, and the grad-mode switches."""
from tapegrad._graph import AccumulateGrad, Node
from tapegrad.torch._grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled
from tapegrad.torch._tensor import backward, grad

__all__ = ["AccumulateGrad", "Node", "backward", "enable_grad", "grad", "inference_mode", "no_grad",
           "set_grad_enabled"]
