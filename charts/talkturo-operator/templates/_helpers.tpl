{{/* Names and labels shared by every template. */}}
{{- define "talkturo-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "talkturo-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The image: by digest when one is given (the tag is then informational only). */}}
{{- define "talkturo-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "talkturo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "talkturo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "talkturo-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "talkturo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "talkturo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "talkturo-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "talkturo-operator.apiKeySecretName" -}}
{{- if .Values.apiKey.existingSecret -}}
{{- .Values.apiKey.existingSecret -}}
{{- else -}}
{{- printf "%s-api-key" (include "talkturo-operator.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "talkturo-operator.secretNamespaces" -}}
{{- $list := .Values.rbac.secretNamespaces | default (list .Release.Namespace) -}}
{{- toJson ($list | uniq) -}}
{{- end -}}

{{/* The admin server's bind address (`adminBindAddress`; `0.0.0.0` by default). */}}
{{- define "talkturo-operator.adminHost" -}}
{{- .Values.adminBindAddress | default "0.0.0.0" -}}
{{- end -}}

{{/* Probes go to the bind address when the admin server listens on one address only (e.g.
     127.0.0.1 with hostNetwork); otherwise to the pod IP, as usual. */}}
{{- define "talkturo-operator.probeHost" -}}
{{- $h := include "talkturo-operator.adminHost" . -}}
{{- if not (has $h (list "0.0.0.0" "::" "[::]")) -}}
{{- $h -}}
{{- end -}}
{{- end -}}

{{/* "true" when the replicas are active-active: `activeActive.enabled`, more than one replica
     (one replica serves every class as it always did, without class Leases), and Kubernetes
     1.30 or later (namespace budgets read PhoneNumbers by field selector; older clusters keep a
     leader and standbys). */}}
{{- define "talkturo-operator.activeActive" -}}
{{- if and .Values.activeActive.enabled (gt (int .Values.replicaCount) 1) (semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version) -}}
true
{{- end -}}
{{- end -}}
