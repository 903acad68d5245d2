// Package manifest reads ProtectedService manifests and judges them as the Kubernetes API server
// judges a create with the ProtectedService CRD installed, without a cluster: `runguard plan`
// refuses an invalid manifest with the message `kubectl apply` would have shown.
package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// Document is one object read from a manifest stream.
type Document struct {
	// Source is "file.yaml#3": the name given to Read and the 1-based index of the object in the
	// stream, counting neither empty documents nor comment-only ones, so it is the third object a
	// reader sees. Items of a List read "file.yaml#3.items[0]".
	Source string
	// Object is the ProtectedService as the API server would store it on create: CRD defaults
	// applied, unknown fields and status dropped, metadata as written. Nil when Skipped.
	Object *iapv1alpha1.ProtectedService
	// Skipped is set for objects that are not ProtectedServices, "apps/v1 Deployment web", so the
	// caller can say it ignored them.
	Skipped string
}

// Read reads one or more YAML or JSON documents separated by '---' (empty documents ignored)
// from r; name labels them in Source and in errors. A List (as `kubectl get -o yaml` writes) is
// read as its items, as kubectl does.
//
// Every ProtectedService is judged as the API server judges a create with strict field
// validation. A refusal is the API server's *apierrors.StatusError (errors.As finds it) with the
// same text, behind the document's Source: "file.yaml#2: ProtectedService.iap.runguard.dev "x"
// is invalid: [...]". Every document is judged, so one error reports all refused documents,
// joined; the documents are returned only when none is refused. A missing kind or apiVersion,
// or a version or kind our group does not serve, is refused in kubectl's words.
func Read(r io.Reader, name string) ([]Document, error) {
	server, err := loadAPIServer()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var docs []Document
	var errs []error
	for n := 1; ; {
		var ext runtime.RawExtension
		if err := dec.Decode(&ext); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			// The stream cannot be read past a syntax error.
			errs = append(errs, fmt.Errorf("%s#%d: %w", name, n, err))
			return nil, errors.Join(errs...)
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		source := fmt.Sprintf("%s#%d", name, n)
		n++

		obj, _, err := unstructured.UnstructuredJSONScheme.Decode(raw, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		if list, ok := obj.(*unstructured.UnstructuredList); ok {
			for i := range list.Items {
				doc, err := judge(ctx, server, &list.Items[i], fmt.Sprintf("%s.items[%d]", source, i))
				docs, errs = collect(docs, errs, doc, err)
			}
			continue
		}
		doc, err := judge(ctx, server, obj.(*unstructured.Unstructured), source)
		docs, errs = collect(docs, errs, doc, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return docs, nil
}

func collect(docs []Document, errs []error, doc Document, err error) ([]Document, []error) {
	if err != nil {
		return docs, append(errs, err)
	}
	return append(docs, doc), errs
}

// judge sorts one object into a ProtectedService, judged by the API server's rules, or a
// skipped object of another API.
func judge(ctx context.Context, server *apiServer, u *unstructured.Unstructured, source string) (Document, error) {
	apiVersion, kind := u.GetAPIVersion(), u.GetKind()
	if kind == "" {
		data, _ := u.MarshalJSON()
		return Document{}, fmt.Errorf("%s: %w", source, runtime.NewMissingKindErr(string(data)))
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return Document{}, fmt.Errorf("%s: %w", source, err)
	}
	switch {
	case apiVersion == "":
		// kubectl looks the kind up in the core group and finds nothing.
		return Document{}, fmt.Errorf("%s: %w", source, &meta.NoKindMatchError{GroupKind: schema.GroupKind{Kind: kind}, SearchedVersions: []string{""}})
	case gv.Group != protectedServiceGVK.Group:
		return Document{Source: source, Skipped: strings.TrimSpace(apiVersion + " " + kind + " " + u.GetName())}, nil
	case gv.WithKind(kind) != protectedServiceGVK:
		return Document{}, fmt.Errorf("%s: %w", source, &meta.NoKindMatchError{GroupKind: gv.WithKind(kind).GroupKind(), SearchedVersions: []string{gv.Version}})
	}

	created, err := server.create(ctx, u)
	if err != nil {
		return Document{}, fmt.Errorf("%s: %w", source, err)
	}
	ps := &iapv1alpha1.ProtectedService{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(created.Object, ps); err != nil {
		// The schema admitted a value the Go type cannot hold: the CRD and the types disagree.
		return Document{}, fmt.Errorf("%s: read the accepted ProtectedService: %w", source, err)
	}
	return Document{Source: source, Object: ps}, nil
}
