//go:build tools

// Package tools pins the Kubernetes commands built from this module: kube-apiserver for the
// test control plane, and kubelet, kube-controller-manager and kube-scheduler for the one-node
// cluster of `make e2e`.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
